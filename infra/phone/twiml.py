"""TwiML documents as typed verbs (no I/O): the subset a Switchboard call uses.

``<Connect><Stream url>`` with its ``<Parameter>``s, ``<Say>``, ``<Pause>``, ``<Dial action>`` with its
``<Number url>``, ``<Redirect>``, ``<Hangup>``. Anything else is kept as ``Unsupported`` so the executor can note and skip it,
as Twilio would reject it, rather than failing the call silently.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import urljoin


class TwimlError(ValueError):
    """The document is not TwiML Twilio would accept."""


@dataclass(frozen=True)
class Stream:
    url: str
    name: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    status_callback: str | None = None
    status_callback_method: str = "POST"


@dataclass(frozen=True)
class Connect:
    stream: Stream


@dataclass(frozen=True)
class Say:
    text: str
    voice: str | None = None


@dataclass(frozen=True)
class Pause:
    length_s: float = 1.0


@dataclass(frozen=True)
class Dial:
    number: str
    timeout_s: int = 30
    action: str | None = None  # where Twilio posts DialCallStatus when the dialled leg ends
    method: str = "POST"
    number_url: str | None = None  # TwiML run on the called party before bridging (the whisper)
    number_method: str = "POST"


@dataclass(frozen=True)
class Redirect:
    url: str  # the TwiML that replaces the rest of this document (fetched as a signed webhook)
    method: str = "POST"


@dataclass(frozen=True)
class Hangup:
    pass


@dataclass(frozen=True)
class Unsupported:
    tag: str


Verb = Connect | Say | Pause | Dial | Redirect | Hangup | Unsupported


def _stream(el: ET.Element, base_url: str | None) -> Stream:
    url = el.get("url")
    if not url:
        raise TwimlError("<Stream> needs a url")
    if "://" not in url:
        if base_url is None:
            raise TwimlError("a relative <Stream url> needs a TwiML document URL to resolve against")
        url = urljoin(base_url, url).replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    if not url.startswith(("ws://", "wss://")):
        raise TwimlError("<Stream url> must be a ws:// or wss:// URL")
    params: dict[str, str] = {}
    for p in el.findall("Parameter"):
        name, value = p.get("name"), p.get("value", "")
        if name:
            params[name] = value
    return Stream(
        url=url,
        name=el.get("name"),
        parameters=params,
        status_callback=el.get("statusCallback"),
        status_callback_method=el.get("statusCallbackMethod", "POST"),
    )


def _connect(el: ET.Element, base_url: str | None) -> Verb:
    stream = el.find("Stream")
    if stream is None:
        return Unsupported("Connect")
    return Connect(_stream(stream, base_url))


def _say(el: ET.Element, base_url: str | None) -> Verb:
    return Say(text=(el.text or "").strip(), voice=el.get("voice"))


def _pause(el: ET.Element, base_url: str | None) -> Verb:
    return Pause(length_s=float(el.get("length", "1")))


def _dial(el: ET.Element, base_url: str | None) -> Verb:
    number_el = el.find("Number")
    number = (number_el.text if number_el is not None else el.text) or ""
    return Dial(
        number=number.strip(),
        timeout_s=int(el.get("timeout", "30")),
        action=_absolute(el.get("action"), base_url),
        method=el.get("method", "POST"),
        number_url=_absolute(number_el.get("url"), base_url) if number_el is not None else None,
        number_method=(number_el.get("method") if number_el is not None else None) or "POST",
    )


def _absolute(url: str | None, base_url: str | None) -> str | None:
    if not url or "://" in url:
        return url or None
    if base_url is None:
        raise TwimlError("a relative URL needs a TwiML document URL to resolve against")
    return urljoin(base_url, url)


def _hangup(el: ET.Element, base_url: str | None) -> Verb:
    return Hangup()


def _redirect(el: ET.Element, base_url: str | None) -> Verb:
    url = _absolute((el.text or "").strip(), base_url)
    if url is None:
        raise TwimlError("<Redirect> needs a URL")
    return Redirect(url=url, method=el.get("method", "POST"))


_VERBS = {
    "Connect": _connect,
    "Say": _say,
    "Pause": _pause,
    "Dial": _dial,
    "Redirect": _redirect,
    "Hangup": _hangup,
}


def parse(document: str, *, base_url: str | None = None) -> list[Verb]:
    """The verbs of a ``<Response>`` in order. ``base_url`` resolves relative stream URLs."""
    try:
        root = ET.fromstring(document.strip())
    except ET.ParseError as exc:
        raise TwimlError(f"not XML: {exc}") from exc
    if root.tag != "Response":
        raise TwimlError(f"root element is <{root.tag}>, not <Response>")
    verbs: list[Verb] = []
    for el in root:
        build = _VERBS.get(el.tag)
        verbs.append(build(el, base_url) if build else Unsupported(el.tag))
    return verbs

"""The offline speech stack of the local stand-ins: text-to-speech (Piper, in its own process),
voice activity detection and speech-to-text. Never imported by production code paths."""

"""The snip pipeline: capture a moment, cut its audio, transcribe it, publish it."""

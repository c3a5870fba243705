"""Released models (musicnn, silero VAD, YAMNet, BirdNET, CED) converted into livetag bundles."""

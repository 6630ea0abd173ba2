"""Optional third-party back-ends nembed runs when installed (openTSNE's ``dependencies`` package layout)."""

"""Translation backends behind one small protocol (see base.Translator)."""

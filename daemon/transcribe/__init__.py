"""Speech to text behind one protocol, with a backend per configured name."""

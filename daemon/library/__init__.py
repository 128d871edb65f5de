"""The podcast library: feeds, episodes, downloads, chapters, publisher transcripts."""

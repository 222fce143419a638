"""Recording: packet-copy into browser-playable MP4 segments, the segment index, retention."""

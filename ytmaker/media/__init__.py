"""Media: text layout, drawing, narration audio, subtitles and the FFmpeg render. Plain Python."""

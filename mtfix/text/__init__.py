"""Text: tokens with character offsets, spans and edits, the formats."""

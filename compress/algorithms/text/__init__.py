"""Text as the compressors, teachers and metrics see it, with no model: words and their layout
(`words`), extractive units (`units`), and the facts a text states (`patterns`)."""

"""Stage 6, names: a readable, distinct name for every node of the taxonomy.

:mod:`.extractive` names nodes with their papers' phrases (:mod:`.phrases`);
:mod:`.llm` asks an OpenAI-compatible endpoint instead, the extractive name as fallback.
"""

"""What a run writes for people: tables, the report, the static map, exports."""

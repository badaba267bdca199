"""Analysis: metrics, short-board tests, trends and exports."""

"""`make bench`: cold start and warm latency of the functions, side by side with peers."""

"""The grading engine: workers that claim jobs from the service and run them."""

"""The tensor backend: a plan applied with batched torch ops grouped by op family (`apply`),
on any device, and the batched image ops (`ops`)."""

"""Training the style-based generator: data sampling, augmentation, losses, loop."""

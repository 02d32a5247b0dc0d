"""Domain and storage: models, services, segmentation, alignment, TMX."""

"""Selection to a budget and leak-free splits."""

"""Backbones (random-init, pretrained, packaged GGUF), the one LightningModule, and its optimizer."""

"""Training stage: SFT (LoRA or full), DPO, ORPO and continued pre-training on transformers/peft/trl."""

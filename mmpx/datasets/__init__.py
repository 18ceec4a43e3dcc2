"""What the core knows about named datasets without the training stack: Human-Art's 20 scenarios and their groups
(the registered dataset classes themselves live in ``mmpose_ext.datasets``)."""

"""accelgen: parametric Verilog for FPGA neural-network accelerators, verified against NumPy models."""

__version__ = "0.1.0"

"""The command line: ``python -m rlpyt {train,plot} ...``."""

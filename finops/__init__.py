"""Finance and operations tools for the Claude platform: one command line (`claude-finops`)."""

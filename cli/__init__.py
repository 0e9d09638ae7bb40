"""The `cinefeat` command: mounts each component's subcommands; holds the cross-component ones."""

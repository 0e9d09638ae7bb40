"""The `cinefeat` command: mounts each component's subcommands and holds the cross-component ones."""

"""Maps the root folders onto the subpackages of the `cinefeat` import package.

`extract/` -> `cinefeat.extract`, `store/` -> `cinefeat.store`, and so on: the folder tree shows the
architecture while users import one package. `cinefeat` itself is an implicit namespace. Everything
else about the distribution lives in pyproject.toml.
"""

from setuptools import find_packages, setup

COMPONENTS = ("store", "extract", "fuse", "cli")

package_dir = {f"cinefeat.{c}": c for c in COMPONENTS}
packages = []
for component in COMPONENTS:
    packages.append(f"cinefeat.{component}")
    packages += [f"cinefeat.{component}.{sub}" for sub in find_packages(component)]

# Data files that travel with the code (model tables, configs, vocabularies).
package_data = {p: ["*.json", "*.yaml", "*.txt", "*.md"] for p in packages}

setup(package_dir=package_dir, packages=packages, package_data=package_data)

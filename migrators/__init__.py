"""libcst codemods for the sandbox's library upgrades; see migrators.framework for the API.

    from migrators import migrate_tree
    result = migrate_tree(Path("services/foo"), write=False)
    print(result.diff()); result.to_json()

Only libcst and tomlkit are needed (this package runs in the network-less migrator image).
"""

from migrators.framework import Change, FileResult, TreeResult, Upgrade, migrate_tree
from migrators.versions import Versions, default_versions, load_versions

__all__ = [
    "Change",
    "FileResult",
    "TreeResult",
    "Upgrade",
    "Versions",
    "default_versions",
    "load_versions",
    "migrate_tree",
]

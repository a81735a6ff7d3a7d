"""The import of hosted ChatKit threads into ChatKitTable (ImportHostedThreadsFunction, `make
import-hosted-threads`; docs/migration.md).

Everything the import needs lives in this package and nowhere else: removing the import is
deleting this folder, ImportHostedThreadsFunction and its make target.
"""

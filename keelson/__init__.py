"""Keelson's release tooling: one module per stage, each taking plain data and returning plain data.

values (load + merge) -> valuesschema (values.schema.json) -> render (helm via pyhelm3)
-> kubeschema (kubeconform); lint runs the linters; check chains the stages for `invoke check`.
"""

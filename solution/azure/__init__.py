"""Azure ML deployment of the endpoint: the managed online endpoint YAML and the azureml-core (SDK v1) code
path. Nothing here is imported by the offline path; see README.md for what was and was not exercised."""

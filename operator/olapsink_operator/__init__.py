"""olapsink operator: reconciles DorisSink/StarRocksSink into worker Deployments."""

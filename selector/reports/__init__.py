"""What a recommendation writes for people: the JSON and Markdown report (`document`) and the
study's and the comparison's plots (`plots`)."""

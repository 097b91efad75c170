"""The offline local index: documents and web pages converted by the documents converters, searched with tantivy."""

"""Who the caller is, and the only place that reads tokens.

``authorizer`` (the gateway's Lambda authorizer), ``identity`` (the kinds of token, where each
works, the bearer header, the identity the authorizer passes on), ``tokens`` (minting session
tokens, verifying every token), ``verifier`` (one verifier built from settings), ``jwks`` and
``authorization_server`` (the keys and the OAuth server tokens are checked against),
``resource_server`` (/mcp as an OAuth resource server), ``rotation`` (TokenSigningSecret).
"""

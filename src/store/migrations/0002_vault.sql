-- 0002 vault: the database's half of the key hierarchy (src/domain/vault.c, docs/security.md).
-- Nothing here opens without the master key file, which is never stored in the database.

-- Named values of the vault:
--   check       nonce || AEAD of a constant under the master key: a wrong key file is refused
--   signing_sk  the Ed25519 secret key that signs audit checkpoints, wrapped by the master key
--   signing_pk  its public half, in clear (audit verification needs only this)
CREATE TABLE vault_meta (
    name TEXT NOT NULL PRIMARY KEY,
    value {{blob}} NOT NULL,
    created {{int64}} NOT NULL,
    updated {{int64}} NOT NULL
) {{strict}};

-- One random 32-byte data key per client and version, wrapped (XChaCha20-Poly1305, additional
-- data = client id and version) by the master key. Ciphertexts name the version they were made
-- with, so a later re-encryption can add version 2 while version 1 still decrypts old fields.
-- `updated` is the last re-wrap (master key rotation); the key itself never changes.
CREATE TABLE data_keys (
    client_id {{int64}} NOT NULL,
    version {{int64}} NOT NULL,
    wrapped {{blob}} NOT NULL,
    created {{int64}} NOT NULL,
    updated {{int64}} NOT NULL,
    PRIMARY KEY (client_id, version)
) {{strict}};

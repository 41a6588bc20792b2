-- 0004 identity: organisations (one provider, many clients), users with roles, teams, customers with
-- their personal data encrypted by the vault, name-search tokens, and consent records (C1.1.1, C5.2,
-- C7.1.1, C7.2.1). Every client-owned row carries client_id (DESIGN.md "Tenants"); flags are 0/1.

-- A client's id is its organisation id: client_id = id for clients, 0 for the provider.
CREATE TABLE organizations (
    id {{int64}} PRIMARY KEY,
    client_id {{int64}} NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('provider', 'client')),
    name TEXT NOT NULL,
    legal_name TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    contact_name TEXT NOT NULL DEFAULT '',
    contact_phone TEXT NOT NULL DEFAULT '',
    contact_email TEXT NOT NULL DEFAULT '',
    disabled {{int64}} NOT NULL DEFAULT 0,
    created {{int64}} NOT NULL,
    updated {{int64}} NOT NULL
) {{strict}};
-- At most one provider: the unique index holds only provider rows.
CREATE UNIQUE INDEX organizations_one_provider ON organizations (kind) WHERE kind = 'provider';
CREATE INDEX organizations_client ON organizations (client_id, id);

-- username_key is the look-alike skeleton (core/lookalike.h): `аdmin` and `admin` collide here.
-- password_hash is an argon2id string; totp_secret is vault-encrypted (AD: user row).
CREATE TABLE users (
    id {{int64}} PRIMARY KEY,
    org_id {{int64}} NOT NULL REFERENCES organizations (id),
    client_id {{int64}} NOT NULL,
    username TEXT NOT NULL,
    username_key TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    roles {{int64}} NOT NULL DEFAULT 0,
    password_hash TEXT NOT NULL,
    password_changed {{int64}} NOT NULL,
    totp_secret {{blob}},
    totp_enabled {{int64}} NOT NULL DEFAULT 0,
    totp_last_step {{int64}} NOT NULL DEFAULT 0,
    language TEXT NOT NULL DEFAULT 'zh-CN',
    time_zone TEXT NOT NULL DEFAULT '',
    disabled {{int64}} NOT NULL DEFAULT 0,
    created {{int64}} NOT NULL,
    updated {{int64}} NOT NULL
) {{strict}};
CREATE UNIQUE INDEX users_username_key ON users (username_key);
CREATE INDEX users_client_org ON users (client_id, org_id, id);

-- Teams are the provider's (no client_id): members are provider users.
CREATE TABLE teams (
    id {{int64}} PRIMARY KEY,
    name TEXT NOT NULL,
    created {{int64}} NOT NULL,
    updated {{int64}} NOT NULL
) {{strict}};

CREATE TABLE team_members (
    team_id {{int64}} NOT NULL REFERENCES teams (id),
    user_id {{int64}} NOT NULL REFERENCES users (id),
    created {{int64}} NOT NULL,
    PRIMARY KEY (team_id, user_id)
) {{strict}};
CREATE INDEX team_members_user ON team_members (user_id);

-- Personal fields are vault ciphertexts (AD: client, "customers", column, id); NULL when absent or
-- erased (deleted = 1 keeps the row for references, never the data). Hashes are keyed (vault.h).
CREATE TABLE customers (
    id {{int64}} PRIMARY KEY,
    client_id {{int64}} NOT NULL REFERENCES organizations (id),
    kind TEXT NOT NULL CHECK (kind IN ('person', 'enterprise')),
    name {{blob}},
    phone {{blob}},
    email {{blob}},
    address {{blob}},
    id_number {{blob}},
    phone_hash {{blob}},
    email_hash {{blob}},
    deleted {{int64}} NOT NULL DEFAULT 0,
    created {{int64}} NOT NULL,
    updated {{int64}} NOT NULL
) {{strict}};
CREATE INDEX customers_client ON customers (client_id, id);
CREATE INDEX customers_phone ON customers (client_id, phone_hash);
CREATE INDEX customers_email ON customers (client_id, email_hash);

-- Keyed hashes of the unigrams and bigrams of each customer's normalised name (vault_name_tokens).
CREATE TABLE customer_name_tokens (
    client_id {{int64}} NOT NULL,
    token {{blob}} NOT NULL,
    customer_id {{int64}} NOT NULL REFERENCES customers (id),
    PRIMARY KEY (customer_id, token)
) {{strict}};
CREATE INDEX customer_name_tokens_lookup ON customer_name_tokens (client_id, token);

-- C7.2.1: one row per consent given; withdrawal stamps the row, so the history stays.
-- third_party is '' unless the purpose is sharing with a named third party.
CREATE TABLE consents (
    id {{int64}} PRIMARY KEY,
    client_id {{int64}} NOT NULL,
    customer_id {{int64}} NOT NULL REFERENCES customers (id),
    purpose TEXT NOT NULL,
    third_party TEXT NOT NULL DEFAULT '',
    notice_version TEXT NOT NULL,
    given_at {{int64}} NOT NULL,
    given_channel TEXT NOT NULL,
    withdrawn_at {{int64}},
    withdrawn_channel TEXT,
    recorded_by {{int64}} NOT NULL
) {{strict}};
CREATE INDEX consents_customer ON consents (client_id, customer_id, purpose, third_party);

-- the schema before story clustering (no story_aliases, item_vectors, join_* columns), as created by SQLModel.metadata.create_all(sqlite) before migrations existed:
-- aggregator/store/tables.py at commit 5c5177d, frozen; never edit (tests/test_migrations.py).

CREATE TABLE sources (
	id VARCHAR(100) NOT NULL,
	url TEXT NOT NULL,
	fetch_url TEXT,
	feed_title TEXT,
	feed_link TEXT,
	feed_language VARCHAR(20),
	etag TEXT,
	last_modified TEXT,
	body_hash VARCHAR(64),
	last_poll_at DATETIME,
	last_success_at DATETIME,
	last_outcome VARCHAR(20),
	last_status INTEGER,
	last_error TEXT,
	error_since DATETIME,
	consecutive_errors INTEGER NOT NULL,
	next_check_at DATETIME,
	retired BOOLEAN NOT NULL,
	config_hash VARCHAR(64),
	redirect_url TEXT,
	redirect_count INTEGER NOT NULL,
	PRIMARY KEY (id)
);

CREATE INDEX ix_sources_next_check_at ON sources (next_check_at);

CREATE TABLE stories (
	id INTEGER NOT NULL,
	uid VARCHAR(64) NOT NULL,
	created_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (uid)
);

CREATE TABLE polls (
	id INTEGER NOT NULL,
	source_id VARCHAR(100) NOT NULL,
	started_at DATETIME NOT NULL,
	duration FLOAT NOT NULL,
	outcome VARCHAR(20) NOT NULL,
	status INTEGER,
	new INTEGER NOT NULL,
	updated INTEGER NOT NULL,
	error TEXT,
	PRIMARY KEY (id)
);

CREATE INDEX ix_polls_started_at ON polls (started_at);

CREATE INDEX ix_polls_source_id ON polls (source_id);

CREATE TABLE tombstones (
	source_id VARCHAR(100) NOT NULL,
	identity TEXT NOT NULL,
	removed_at DATETIME NOT NULL,
	PRIMARY KEY (source_id, identity)
);

CREATE TABLE items (
	id INTEGER NOT NULL,
	source_id VARCHAR(100) NOT NULL,
	identity TEXT NOT NULL,
	story_id INTEGER NOT NULL,
	guid TEXT,
	link TEXT,
	canonical_link TEXT,
	title TEXT NOT NULL,
	title_key TEXT NOT NULL,
	summary_html TEXT NOT NULL,
	content_html TEXT NOT NULL,
	text TEXT NOT NULL,
	author TEXT,
	language VARCHAR(20),
	image TEXT,
	published DATETIME NOT NULL,
	updated DATETIME NOT NULL,
	first_seen DATETIME NOT NULL,
	content_hash VARCHAR(64) NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_items_source_identity UNIQUE (source_id, identity),
	FOREIGN KEY(source_id) REFERENCES sources (id),
	FOREIGN KEY(story_id) REFERENCES stories (id)
);

CREATE INDEX ix_items_story_id ON items (story_id);

CREATE INDEX ix_items_published ON items (published);

CREATE INDEX ix_items_canonical_link ON items (canonical_link);

CREATE INDEX ix_items_title_key ON items (title_key);

CREATE TABLE item_topics (
	item_id INTEGER NOT NULL,
	topic VARCHAR(100) NOT NULL,
	PRIMARY KEY (item_id, topic),
	FOREIGN KEY(item_id) REFERENCES items (id)
);

CREATE INDEX ix_item_topics_topic ON item_topics (topic);

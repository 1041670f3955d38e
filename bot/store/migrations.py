"""Ordered schema migrations for the SQLite store.

Each migration is applied in one transaction together with the row recording it in
``schema_migrations``, so a crash mid-migration leaves the database at the previous version.
Never edit a released migration; append a new one.
"""

from __future__ import annotations

from typing import Final

Migration = tuple[int, str, tuple[str, ...]]

MIGRATIONS: Final[tuple[Migration, ...]] = (
    (
        1,
        "queue, audit, outbox, deliveries, review posts, schedules",
        (
            """
            CREATE TABLE articles (
                id INTEGER PRIMARY KEY,
                url TEXT NOT NULL UNIQUE,
                web_url TEXT NOT NULL,
                title TEXT NOT NULL,
                excerpt TEXT NOT NULL DEFAULT '',
                published_at TEXT,
                category TEXT NOT NULL DEFAULT '',
                type TEXT NOT NULL DEFAULT '',
                provider_name TEXT,
                provider_domain TEXT,
                topics TEXT NOT NULL DEFAULT '[]',
                images TEXT NOT NULL DEFAULT '[]',
                quality INTEGER,
                heat INTEGER,
                source_published INTEGER NOT NULL DEFAULT 0,
                source TEXT NOT NULL,
                body TEXT NOT NULL DEFAULT '',
                source_hash TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN
                    ('pending', 'approved', 'rejected', 'published')),
                reason TEXT,
                submitted_by TEXT,
                decided_by TEXT,
                decided_at TEXT,
                first_published_at TEXT,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )
            """,
            "CREATE INDEX articles_status ON articles (status, quality DESC, published_at DESC)",
            "CREATE INDEX articles_source_hash ON articles (source_hash)",
            """
            CREATE TABLE related (
                article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
                position INTEGER NOT NULL,
                url TEXT NOT NULL,
                title TEXT NOT NULL,
                excerpt TEXT NOT NULL DEFAULT '',
                provider_name TEXT,
                provider_domain TEXT,
                published_at TEXT,
                quality INTEGER,
                image TEXT,
                PRIMARY KEY (article_id, position)
            ) WITHOUT ROWID
            """,
            """
            CREATE TABLE audit_log (
                id INTEGER PRIMARY KEY,
                article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
                action TEXT NOT NULL,
                actor TEXT NOT NULL,
                from_status TEXT,
                to_status TEXT,
                reason TEXT,
                at TEXT NOT NULL
            )
            """,
            "CREATE INDEX audit_log_article ON audit_log (article_id, id)",
            """
            CREATE TABLE digests (
                id INTEGER PRIMARY KEY,
                channel_id INTEGER NOT NULL,
                key TEXT NOT NULL UNIQUE,
                trigger TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
                error TEXT,
                created_at TEXT NOT NULL,
                finished_at TEXT
            )
            """,
            "CREATE INDEX digests_unfinished ON digests (status, channel_id)",
            """
            CREATE TABLE digest_messages (
                digest_id INTEGER NOT NULL REFERENCES digests (id) ON DELETE CASCADE,
                position INTEGER NOT NULL,
                payload TEXT NOT NULL,
                nonce TEXT NOT NULL,
                message_id INTEGER,
                sent_at TEXT,
                PRIMARY KEY (digest_id, position)
            ) WITHOUT ROWID
            """,
            """
            CREATE TABLE digest_items (
                digest_id INTEGER NOT NULL REFERENCES digests (id) ON DELETE CASCADE,
                article_id INTEGER NOT NULL REFERENCES articles (id),
                position INTEGER NOT NULL,
                message_position INTEGER NOT NULL,
                PRIMARY KEY (digest_id, article_id)
            ) WITHOUT ROWID
            """,
            """
            CREATE TABLE deliveries (
                article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
                channel_id INTEGER NOT NULL,
                message_id INTEGER NOT NULL,
                digest_id INTEGER REFERENCES digests (id),
                delivered_at TEXT NOT NULL,
                PRIMARY KEY (article_id, channel_id)
            ) WITHOUT ROWID
            """,
            "CREATE INDEX deliveries_channel ON deliveries (channel_id)",
            """
            CREATE TABLE review_posts (
                article_id INTEGER PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
                channel_id INTEGER NOT NULL,
                message_id INTEGER NOT NULL,
                posted_at TEXT NOT NULL
            )
            """,
            """
            CREATE TABLE schedules (
                channel_id INTEGER PRIMARY KEY,
                cron TEXT,
                timezone TEXT NOT NULL,
                updated_by TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )
            """,
            """
            CREATE TABLE schedule_runs (
                channel_id INTEGER NOT NULL,
                scheduled_for TEXT NOT NULL,
                digest_id INTEGER REFERENCES digests (id),
                outcome TEXT NOT NULL,
                ran_at TEXT NOT NULL,
                PRIMARY KEY (channel_id, scheduled_for)
            ) WITHOUT ROWID
            """,
        ),
    ),
    (
        2,
        "index for listing the queue by state in id order",
        ("CREATE INDEX articles_status_id ON articles (status, id)",),
    ),
    (
        3,
        "one vocabulary for run outcomes: an empty scheduled run is 'nothing', as its publish",
        ("UPDATE schedule_runs SET outcome = 'nothing' WHERE outcome = 'empty'",),
    ),
    (
        4,
        "items per status, kept by triggers, so the queue's counts read four rows, not all",
        (
            """
            CREATE TABLE status_counts (
                status TEXT PRIMARY KEY,
                items INTEGER NOT NULL
            ) WITHOUT ROWID
            """,
            """
            INSERT INTO status_counts (status, items)
            SELECT value, (SELECT count(*) FROM articles WHERE status = value)
            FROM json_each('["pending", "approved", "rejected", "published"]')
            """,
            """
            CREATE TRIGGER articles_count_insert AFTER INSERT ON articles BEGIN
                UPDATE status_counts SET items = items + 1 WHERE status = new.status;
            END
            """,
            """
            CREATE TRIGGER articles_count_delete AFTER DELETE ON articles BEGIN
                UPDATE status_counts SET items = items - 1 WHERE status = old.status;
            END
            """,
            """
            CREATE TRIGGER articles_count_status AFTER UPDATE OF status ON articles
            WHEN old.status IS NOT new.status BEGIN
                UPDATE status_counts SET items = items - 1 WHERE status = old.status;
                UPDATE status_counts SET items = items + 1 WHERE status = new.status;
            END
            """,
        ),
    ),
    (
        5,
        "coverage found by clustering, kept whole so that a split can make it an item again",
        (
            """
            CREATE TABLE coverage (
                url TEXT PRIMARY KEY,
                article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
                web_url TEXT NOT NULL,
                title TEXT NOT NULL,
                excerpt TEXT NOT NULL DEFAULT '',
                published_at TEXT,
                category TEXT NOT NULL DEFAULT '',
                type TEXT NOT NULL DEFAULT '',
                provider_name TEXT,
                provider_domain TEXT,
                topics TEXT NOT NULL DEFAULT '[]',
                images TEXT NOT NULL DEFAULT '[]',
                quality INTEGER,
                heat INTEGER,
                source_published INTEGER NOT NULL DEFAULT 0,
                source TEXT NOT NULL,
                body TEXT NOT NULL DEFAULT '',
                source_hash TEXT NOT NULL,
                outlet TEXT NOT NULL,
                score REAL NOT NULL,
                merged_by TEXT NOT NULL,
                merged_at TEXT NOT NULL
            )
            """,
            "CREATE INDEX coverage_article ON coverage (article_id, merged_at)",
            "CREATE INDEX coverage_source_hash ON coverage (source_hash)",
            # The clustering window reads items by their story's time.
            "CREATE INDEX articles_story_time ON articles (coalesce(published_at, created_at))",
        ),
    ),
    (
        6,
        "moderating at volume: topics by state (the review deck), trusted outlets, review-feed"
        " pacing and its standing message",
        (
            # One row per (topic, state, item), kept by triggers: the deck's next pending item
            # with a topic is one index seek, however many items the queue holds.
            """
            CREATE TABLE article_topics (
                topic TEXT NOT NULL,
                status TEXT NOT NULL,
                article_id INTEGER NOT NULL,
                PRIMARY KEY (topic, status, article_id)
            ) WITHOUT ROWID
            """,
            """
            INSERT OR IGNORE INTO article_topics (topic, status, article_id)
            SELECT lower(t.value), a.status, a.id FROM articles a, json_each(a.topics) t
            """,
            """
            CREATE TRIGGER articles_topics_insert AFTER INSERT ON articles BEGIN
                INSERT OR IGNORE INTO article_topics (topic, status, article_id)
                SELECT lower(value), new.status, new.id FROM json_each(new.topics);
            END
            """,
            """
            CREATE TRIGGER articles_topics_update AFTER UPDATE OF topics, status ON articles
            WHEN old.topics IS NOT new.topics OR old.status IS NOT new.status BEGIN
                DELETE FROM article_topics WHERE status = old.status AND article_id = old.id
                    AND topic IN (SELECT lower(value) FROM json_each(old.topics));
                INSERT OR IGNORE INTO article_topics (topic, status, article_id)
                SELECT lower(value), new.status, new.id FROM json_each(new.topics);
            END
            """,
            """
            CREATE TRIGGER articles_topics_delete AFTER DELETE ON articles BEGIN
                DELETE FROM article_topics WHERE status = old.status AND article_id = old.id
                    AND topic IN (SELECT lower(value) FROM json_each(old.topics));
            END
            """,
            """
            CREATE TABLE trusted_providers (
                provider TEXT PRIMARY KEY,
                added_by TEXT NOT NULL,
                added_at TEXT NOT NULL
            )
            """,
            # The review feed counts its posts of the last hour.
            "CREATE INDEX review_posts_posted_at ON review_posts (posted_at)",
            # The review channel's standing message (and other single records of the bot).
            """
            CREATE TABLE bot_messages (
                name TEXT PRIMARY KEY,
                channel_id INTEGER NOT NULL,
                message_id INTEGER NOT NULL
            )
            """,
            # Highest quality first among items not yet posted for review.
            "CREATE INDEX articles_status_quality_id ON articles (status, quality DESC, id)",
        ),
    ),
    (
        7,
        "feeds: those added from Discord, every feed's polling state, entry guids; origins",
        (
            """
            CREATE TABLE feeds (
                url TEXT PRIMARY KEY,
                topics TEXT NOT NULL DEFAULT '[]',
                added_by TEXT NOT NULL,
                added_at TEXT NOT NULL
            )
            """,
            """
            CREATE TABLE feed_state (
                url TEXT PRIMARY KEY,
                etag TEXT,
                last_modified TEXT,
                body_hash TEXT,
                last_fetch_at TEXT,
                last_status TEXT NOT NULL DEFAULT '',
                entries INTEGER NOT NULL DEFAULT 0,
                failures INTEGER NOT NULL DEFAULT 0,
                next_fetch_at TEXT,
                first_success_at TEXT,
                failing_since TEXT,
                reported INTEGER NOT NULL DEFAULT 0
            )
            """,
            """
            CREATE TABLE feed_entries (
                feed_url TEXT NOT NULL,
                guid TEXT NOT NULL,
                article_url TEXT NOT NULL,
                PRIMARY KEY (feed_url, guid)
            ) WITHOUT ROWID
            """,
            "ALTER TABLE articles ADD COLUMN origin TEXT NOT NULL DEFAULT ''",
            # Coverage keeps a merged article whole, where it came from included.
            "ALTER TABLE coverage ADD COLUMN origin TEXT NOT NULL DEFAULT ''",
        ),
    ),
    (
        8,
        "a digest's thread (a discussion thread, or its forum post), when a forum post was"
        " first attempted (a post has no nonce: after a crash it is looked for, not remade),"
        " and the queue of announcement crossposts",
        (
            "ALTER TABLE digests ADD COLUMN thread_id INTEGER",
            "ALTER TABLE digests ADD COLUMN post_started_at TEXT",
            # Announcement crossposts wait in a queue of their own (about 10 an hour per
            # channel), queued with the part's record and resumed after a crash.
            """
            CREATE TABLE crossposts (
                message_id INTEGER PRIMARY KEY,
                channel_id INTEGER NOT NULL,
                queued_at TEXT NOT NULL,
                done_at TEXT,
                outcome TEXT
            )
            """,
            "CREATE INDEX crossposts_waiting ON crossposts (queued_at) WHERE done_at IS NULL",
        ),
    ),
    (
        9,
        "draft digests: a scheduled run shown to moderators before its time, and what they"
        " decided (review: draft)",
        (
            """
            CREATE TABLE drafts (
                id INTEGER PRIMARY KEY,
                channel_id INTEGER NOT NULL,
                scheduled_for TEXT NOT NULL,
                state TEXT NOT NULL,
                item_ids TEXT NOT NULL,
                dropped TEXT NOT NULL DEFAULT '[]',
                version INTEGER NOT NULL DEFAULT 1,
                control_message_id INTEGER,
                decided_by TEXT,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                UNIQUE (channel_id, scheduled_for)
            )
            """,
            # The review deck's feed filter: the next pending item of a feed in one seek.
            "CREATE INDEX articles_origin_pending ON articles (origin, status, id)",
        ),
    ),
    (
        10,
        "the name of a digest's forum post or discussion thread, rendered with its messages",
        ("ALTER TABLE digests ADD COLUMN thread_name TEXT",),
    ),
    (
        11,
        "corrections and retractions: an item's retraction and last correction, and the"
        " outbox of edits to published messages",
        (
            "ALTER TABLE articles ADD COLUMN retracted_at TEXT",
            "ALTER TABLE articles ADD COLUMN retraction_reason TEXT",
            "ALTER TABLE articles ADD COLUMN corrected_at TEXT",
            # One row per published message that has to be rendered again: queued in the
            # transaction that changes an item it carries, so no change is lost to a crash;
            # a second change before the edit goes out joins the row (the edit renders the
            # message as it is then). ``payload`` is what is being sent, recorded before the
            # PATCH; ``blocked_code`` is Discord's refusal (30046, 50083) that holds it.
            """
            CREATE TABLE edits (
                digest_id INTEGER NOT NULL REFERENCES digests (id) ON DELETE CASCADE,
                position INTEGER NOT NULL,
                why TEXT NOT NULL,
                queued_at TEXT NOT NULL,
                payload TEXT,
                attempted_at TEXT,
                done_at TEXT,
                outcome TEXT,
                blocked_code INTEGER,
                reported INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (digest_id, position)
            ) WITHOUT ROWID
            """,
            "CREATE INDEX edits_pending ON edits (queued_at) WHERE done_at IS NULL",
        ),
    ),
    (
        12,
        "who publishes a channel now: one process at a time, with a fencing token",
        (
            # A process publishing a channel holds its lease until ``expires_at`` (renewed
            # with every part it sends); ``token`` grows with every new holder, and a part is
            # recorded only under the current token, so a process that lost the lease (it
            # stalled past the expiry and another took over) can no longer record anything.
            """
            CREATE TABLE channel_leases (
                channel_id INTEGER PRIMARY KEY,
                owner TEXT NOT NULL,
                token INTEGER NOT NULL,
                expires_at TEXT NOT NULL
            )
            """,
        ),
    ),
    (
        13,
        "the processes sharing the database, and the duties one of them does at a time",
        (
            # Every running newsbot process (run, gateway, worker) heartbeats its row; the
            # live ones split Discord's global request limit between them.
            """
            CREATE TABLE processes (
                owner TEXT PRIMARY KEY,
                role TEXT NOT NULL,
                started_at TEXT NOT NULL,
                seen_at TEXT NOT NULL,
                paced_for INTEGER NOT NULL DEFAULT 0
            )
            """,
            # Work that one process does at a time (the review feed, feed polling, the edits
            # outbox, crossposts): held until ``expires_at``, renewed while it runs.
            """
            CREATE TABLE duties (
                name TEXT PRIMARY KEY,
                owner TEXT NOT NULL,
                expires_at TEXT NOT NULL
            )
            """,
            # Who claimed a scheduled run: a run still running without a digest is another
            # process's work in progress while that process is alive, an orphan once it is not.
            "ALTER TABLE schedule_runs ADD COLUMN claimed_by TEXT",
        ),
    ),
)

-- Job numbers people say aloud (J-1042): each organisation's next one. The number itself lives
-- in the job's JobCreated event, so it reaches every phone with the log.
ALTER TABLE organisations ADD COLUMN next_job_number INTEGER NOT NULL DEFAULT 1001;

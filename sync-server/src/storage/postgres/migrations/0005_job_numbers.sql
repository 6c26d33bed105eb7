-- Job numbers people say aloud (J-1042): each organisation's next one. The number itself lives
-- in the job's JobCreated event, so it reaches every phone with the log. The UPDATE that draws
-- one takes the organisation's row lock: two processes never draw the same number.
ALTER TABLE organisations ADD COLUMN next_job_number integer NOT NULL DEFAULT 1001;

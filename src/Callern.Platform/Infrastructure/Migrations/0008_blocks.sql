-- Who may never be matched with whom. Each side keeps its own row: a student who unblocks a
-- teacher does not undo the teacher's (or an admin's) block of that student.
CREATE TABLE blocks (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    student_id  text COLLATE "C" NOT NULL,
    teacher_id  text COLLATE "C" NOT NULL,
    blocked_by  text NOT NULL CHECK (blocked_by IN ('student', 'teacher', 'admin')),
    reason      text,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, student_id, teacher_id, blocked_by)
);
CREATE INDEX blocks_teacher ON blocks (tenant_id, teacher_id);

using System.Collections.Concurrent;
using System.Text.Json;
using Callern.Platform.Infrastructure;
using Callern.Platform.People;
using Npgsql;

namespace Callern.Platform.Matching;

/// <summary>
/// The teachers ringing may choose from: a per-node, per-tenant snapshot of the available teachers
/// who are in no call and hold no offer, with their profile and <c>teacher_stats</c>, read at most
/// once per <see cref="FreshFor"/> instead of once per request (reading and parsing every available
/// teacher on each request is what made ringing fall behind arrivals). A snapshot is only a shortlist:
/// the offer's own statements still check, in the database, that the teacher is available, free and
/// not already offered (see <c>RingingStore.OfferAsync</c>), and a request that finds nobody in a
/// snapshot looks again in a fresh one before it queues. A presence or profile change expires the
/// tenant's snapshot on this node at once and on the others when its notice arrives (<see cref="Notices"/>,
/// milliseconds), and the next request reads it anew. A snapshot that is merely old is read anew in the background
/// while requests go on with it: once a second, one request would otherwise wait for the read (the
/// p99 of ringing), and when every request re-read it at once, the reads slowed each other down
/// until ringing stalled for seconds.
/// Facts about one student (blocks, their own past ratings) are read per request.
/// </summary>
public sealed class AvailableTeachers(NpgsqlDataSource db, ICallFacts calls, Notices notices, TimeProvider time, ILogger<AvailableTeachers> logger)
    : ITeacherChanges, INoticeHandler
{
    public static readonly TimeSpan FreshFor = TimeSpan.FromSeconds(1);
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly ConcurrentDictionary<Guid, Snapshot> _snapshots = new();

    /// <summary>The tenant's teachers as of <see cref="LoadedAt"/>, less those claimed for an offer on this node since.</summary>
    public sealed class Snapshot(IReadOnlyList<CandidateTeacher> teachers, DateTimeOffset loadedAt)
    {
        private readonly ConcurrentDictionary<string, byte> _claimed = new(StringComparer.Ordinal);
        private int _expired;
        private int _refreshing;
        public IReadOnlyList<CandidateTeacher> Teachers { get; } = teachers;
        public DateTimeOffset LoadedAt { get; } = loadedAt;

        internal bool IsExpired => Volatile.Read(ref _expired) == 1;
        internal bool IsOld(DateTimeOffset now) => now < LoadedAt || now - LoadedAt >= FreshFor;
        internal void Expire() => Volatile.Write(ref _expired, 1);

        /// <summary>True for the one caller that should start reading the next snapshot.</summary>
        internal bool TryStartRefresh() => Interlocked.Exchange(ref _refreshing, 1) == 0;
        internal void RefreshFailed() => Volatile.Write(ref _refreshing, 0);

        /// <summary>
        /// Claims the teacher for an offer this node is about to try; false if another request on
        /// this node has. Concurrent requests rank alike, so without claims they would all try the
        /// same few best teachers; with them each takes the next one free, without a round trip.
        /// </summary>
        public bool TryClaim(string teacherId) => _claimed.TryAdd(teacherId, 0);

        /// <summary>
        /// The candidates for one student's request: this snapshot's teachers less those already tried
        /// for the call and those claimed since it was read, with the student's blocks and own ratings.
        /// </summary>
        public IReadOnlyList<CandidateTeacher> For(StudentFacts student, IReadOnlySet<string> tried)
        {
            var candidates = new List<CandidateTeacher>(Teachers.Count);
            foreach (var teacher in Teachers)
            {
                if (tried.Contains(teacher.TeacherId) || _claimed.ContainsKey(teacher.TeacherId))
                {
                    continue;
                }
                var blocked = student.Blocked.Contains(teacher.TeacherId);
                var own = student.OwnRatings.TryGetValue(teacher.TeacherId, out var rating) ? rating : (double?)null;
                candidates.Add(blocked || own is not null ? teacher with { Blocked = blocked, StudentOwnRating = own } : teacher);
            }
            return candidates;
        }
    }

    /// <summary>What ranking needs to know about the student who asks.</summary>
    public sealed record StudentFacts(IReadOnlySet<string> Blocked, IReadOnlyDictionary<string, double> OwnRatings);

    /// <summary>
    /// The tenant's snapshot (<c>Read</c> false): the cached one, started on its way to a newer one in
    /// the background if it is old. None yet, an expired one, or <paramref name="fresh"/>: one read
    /// now on the caller's connection (<c>Read</c> true).
    /// </summary>
    public async Task<(Snapshot Pool, bool Read)> GetAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid tenantId, bool fresh = false)
    {
        var now = time.GetUtcNow();
        if (!fresh && _snapshots.TryGetValue(tenantId, out var cached) && !cached.IsExpired)
        {
            if (cached.IsOld(now) && cached.TryStartRefresh())
            {
                _ = RefreshAsync(tenantId, cached);
            }
            return (cached, false);
        }
        var snapshot = new Snapshot(await LoadAsync(connection, transaction, tenantId), now);
        _snapshots[tenantId] = snapshot;
        return (snapshot, true);
    }

    private async Task RefreshAsync(Guid tenantId, Snapshot old)
    {
        try
        {
            var now = time.GetUtcNow();
            await using var connection = await db.OpenConnectionAsync();
            var snapshot = new Snapshot(await LoadAsync(connection, null, tenantId), now);
            // Unless a request read a newer one meanwhile. A change on this node while this read
            // ran expired the old snapshot; the new one may predate the change, so it is expired too.
            if (_snapshots.TryUpdate(tenantId, snapshot, old) && old.IsExpired)
            {
                snapshot.Expire();
            }
        }
        catch (Exception exception)
        {
            // The old snapshot stays in use (offers check the database); the next request tries again.
            logger.LogWarning(exception, "Reading the available teachers of tenant {TenantId} failed", tenantId);
            old.RefreshFailed();
        }
    }

    /// <summary>A teacher's presence or profile changed on this node: the next request on any node reads afresh.</summary>
    public void TeachersChanged(Guid tenantId)
    {
        Heard(tenantId.ToString());
        notices.Publish(Channel, tenantId.ToString());
    }

    public string Channel => "callern_teachers";

    /// <summary>A teacher's presence or profile changed on some node.</summary>
    public void Heard(string payload)
    {
        if (Guid.TryParse(payload, out var tenantId) && _snapshots.TryGetValue(tenantId, out var cached))
        {
            cached.Expire();
        }
    }

    public void MayHaveMissed()
    {
        foreach (var snapshot in _snapshots.Values)
        {
            snapshot.Expire();
        }
    }

    /// <summary>
    /// For a caller's own batch of statements: student <c>@studentId</c> of tenant <c>@tenantId</c>,
    /// the profile and what ranking needs to know of them (whom they blocked, how they rated whom),
    /// read with <see cref="ReadStudentAsync(RowResults)"/>.
    /// </summary>
    public string StudentSql { get; } =
        $"""
        {PeopleStore.StudentSql};
        SELECT teacher_id, true, NULL::float8 FROM blocks WHERE tenant_id = @tenantId AND student_id = @studentId
        UNION ALL
        SELECT r.teacher_id, false, r.stars FROM ({calls.OwnRatingsSql}) r(teacher_id, stars)
        """;

    /// <summary>Student <paramref name="studentId"/>: the profile, and what ranking needs to know of them.</summary>
    public async Task<(Student? Profile, StudentFacts Facts)> ReadStudentAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, Guid tenantId, string studentId)
    {
        await using var results = await connection.QueryResultsAsync(StudentSql, new { tenantId, studentId }, transaction);
        return await ReadStudentAsync(results);
    }

    /// <summary>The results of <see cref="StudentSql"/>.</summary>
    public static async Task<(Student? Profile, StudentFacts Facts)> ReadStudentAsync(RowResults results) =>
        (await PeopleStore.ReadStudentAsync(results), await ReadStudentFactsAsync(results));

    private static async Task<StudentFacts> ReadStudentFactsAsync(RowResults results)
    {
        var blocked = new HashSet<string>(StringComparer.Ordinal);
        var ratings = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var row in await results.ReadAsync<(string TeacherId, bool Blocked, double? Rating)>())
        {
            if (row.Blocked)
            {
                blocked.Add(row.TeacherId);
            }
            else
            {
                ratings[row.TeacherId] = row.Rating!.Value;
            }
        }
        return new StudentFacts(blocked, ratings);
    }

    /// <summary>
    /// A teacher with an open offer or a live call is busy. The two tests sit inside one
    /// <c>NOT (… OR …)</c> so that PostgreSQL checks them per teacher (an index probe, or a hash of
    /// the busy ids), never as anti-joins whose plan follows the statistics: while a fresh platform's
    /// offers and calls grew faster than they were analyzed, those joins scanned every open offer for
    /// every teacher, seconds per read with thousands available.
    /// </summary>
    private readonly string _loadSql =
        $"""
        SELECT t.id, t.languages::text AS languages, t.specializations, t.time_zone, p.changed_at AS available_since,
               coalesce(s.rating_count, 0) AS rating_count, coalesce(s.rating_sum, 0) AS rating_sum,
               coalesce(s.offers_received, 0) AS offers_received, coalesce(s.offers_accepted, 0) AS offers_accepted,
               s.last_call_ended_at AS last_call_ended
        FROM ({Signaling.PresenceStore.AvailableTeachersSql}) p
        JOIN ({PeopleStore.TeachersSql}) t ON t.tenant_id = p.tenant_id AND t.id = p.teacher_id
        LEFT JOIN teacher_stats s ON s.tenant_id = t.tenant_id AND s.teacher_id = t.id
        WHERE NOT {calls.TeacherBusySql}
        """;

    private async Task<IReadOnlyList<CandidateTeacher>> LoadAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, Guid tenantId)
    {
        var rows = await connection.QueryRowsAsync<Row>(_loadSql, new { tenantId }, transaction);
        return rows.Select(r => new CandidateTeacher(
            r.Id, JsonSerializer.Deserialize<List<TeacherLanguage>>(r.Languages, Json)!, r.Specializations, r.TimeZone,
            Available: true, Blocked: false, (int)r.RatingCount, r.RatingSum, StudentOwnRating: null, (int)r.OffersReceived, (int)r.OffersAccepted,
            Max(r.AvailableSince.AsUtc(), r.LastCallEnded?.AsUtc()))).ToList();
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset? b) => b is { } value && value > a ? value : a;

    private sealed class Row
    {
        public string Id { get; init; } = "";
        public string Languages { get; init; } = "[]";
        public string[] Specializations { get; init; } = [];
        public string TimeZone { get; init; } = "UTC";
        public DateTime AvailableSince { get; init; }
        public long RatingCount { get; init; }
        public long RatingSum { get; init; }
        public long OffersReceived { get; init; }
        public long OffersAccepted { get; init; }
        public DateTime? LastCallEnded { get; init; }
    }
}

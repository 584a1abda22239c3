using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using Callern.Sdk.Realtime;
using Npgsql;
using Xunit.Abstractions;

namespace Callern.Platform.Tests.Calls.Faults;

/// <summary>
/// What issue 17's fault tests share: the platform as a real process on its own database with the
/// DEFAULT heartbeat, grace and timeout settings (a shortened setting hides the very bug a test
/// exists for), restartable on the same port so the clients' reconnects find it, optionally
/// reaching PostgreSQL through a <see cref="FaultProxy"/>; or several such nodes on one database
/// with Redis and nginx in front, as <c>CALLERN_NODES=N ./run.sh</c> runs them; a connected call
/// between two <see cref="MediaParty"/> apps; and the assertions every scenario makes about the money.
/// </summary>
public sealed class FaultLab(ITestOutputHelper output) : IAsyncDisposable
{
    /// <summary>The bound: the most a fault may over-bill (one confirmation interval plus clock slack).</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);

    /// <summary>The default reconnect grace (CallSettings.ReconnectGraceSeconds), which these tests do not change.</summary>
    public static readonly TimeSpan Grace = TimeSpan.FromSeconds(30);

    /// <summary>
    /// What a SIGKILL may make the platform forget, in the student's favour: confirmations are kept in
    /// the node's memory and written at most once per heartbeat (default 15 s), plus one interval.
    /// </summary>
    public static readonly TimeSpan UnwrittenAtKill = TimeSpan.FromSeconds(15 + 2);

    /// <summary>How far below the confirmed media a bill may fall before the test calls it lost time: one interval at each of a few resumptions.</summary>
    public static readonly TimeSpan UnderBilledTolerance = TimeSpan.FromSeconds(10);

    private const long InitialSeconds = 600;

    private readonly TestDatabase _database = new();
    private readonly string _keysPath = Path.Combine(Path.GetTempPath(), "callern-test-keys-" + Guid.NewGuid().ToString("N"));
    private readonly string _filesPath = Path.Combine(Path.GetTempPath(), "callern-test-files-" + Guid.NewGuid().ToString("N"));
    private readonly string _operatorKey = "op_" + Guid.NewGuid().ToString("N");
    private readonly List<PlatformProcess> _processes = [];
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly int _port = FaultProxy.FreePortBelow32768();
    private readonly Dictionary<int, PlatformProcess> _nodes = [];
    private readonly List<int> _nodePorts = [];
    private readonly string _balancerPath = Path.Combine(Path.GetTempPath(), "callern-test-nginx-" + Guid.NewGuid().ToString("N"));
    private readonly int _redisPort = FaultProxy.FreePortBelow32768();
    private ServerProcess? _redis;
    private ServerProcess? _balancer;

    /// <summary>The proxy in front of PostgreSQL, once <see cref="StartPlatformAsync"/> was asked for one.</summary>
    public FaultProxy? DatabaseProxy { get; private set; }

    public PlatformProcess Platform => _processes[^1];

    /// <summary>Where the platform listens, the same across restarts: the balancer's address once a cluster runs.</summary>
    public Uri BaseAddress => new($"http://127.0.0.1:{_port}/");

    /// <summary>The platform as the apps and the school reach it: the last process started, or the balancer in front of the nodes.</summary>
    public ICallernHost Host => _balancer is null ? Platform : new RemotePlatform(BaseAddress, _operatorKey);

    /// <summary>Starts (or restarts) the platform on the lab's port and database.</summary>
    /// <param name="databaseThroughProxy">Reach PostgreSQL through <see cref="DatabaseProxy"/>, so a test can take it away.</param>
    public async Task<PlatformProcess> StartPlatformAsync(string name, bool databaseThroughProxy = false)
    {
        var connectionString = _database.ConnectionString;
        if (databaseThroughProxy)
        {
            var direct = new NpgsqlConnectionStringBuilder(_database.ConnectionString);
            DatabaseProxy ??= Own(FaultProxy.Start(direct.Port));
            connectionString = new NpgsqlConnectionStringBuilder(_database.ConnectionString) { Host = "127.0.0.1", Port = DatabaseProxy.Port }.ConnectionString;
        }
        var process = await PlatformProcess.StartAsync(name, NodeEnvironment(connectionString), _operatorKey, output, _port);
        _processes.Add(process);
        return process;
    }

    /// <summary>
    /// A cluster of <paramref name="nodes"/> nodes: their ports are chosen and redis-server started; nginx
    /// (<see cref="StartBalancerAsync"/>) takes the lab's port and the nodes start one by one (<see cref="StartNodeAsync"/>).
    /// </summary>
    public async Task StartRedisAsync(int nodes)
    {
        while (_nodePorts.Count < nodes)
        {
            _nodePorts.Add(FaultProxy.FreePortBelow32768());
        }
        Log($"redis-server on {_redisPort}");
        _redis = await ServerProcess.RedisAsync(_redisPort, output);
    }

    /// <summary>SIGKILL of Redis; <see cref="StartRedisAsync"/> brings it back on its port.</summary>
    public void KillRedis()
    {
        Log("SIGKILL redis-server");
        _redis!.Dispose();
    }

    /// <summary>nginx on the lab's port, in front of every node's port (whether that node runs yet or not).</summary>
    public async Task StartBalancerAsync()
    {
        Directory.CreateDirectory(_balancerPath);
        _balancer = await ServerProcess.BalancerAsync(_balancerPath, _port, _nodePorts, output);
    }

    /// <summary>Starts (or restarts) node <paramref name="index"/> (from 1) on its port, with the backplane.</summary>
    public async Task<PlatformProcess> StartNodeAsync(int index)
    {
        var environment = NodeEnvironment(_database.ConnectionString);
        environment["ConnectionStrings__Redis"] = $"127.0.0.1:{_redisPort}";
        var process = await PlatformProcess.StartAsync($"node-{index}", environment, _operatorKey, output, _nodePorts[index - 1]);
        _processes.Add(process);
        _nodes[index] = process;
        return process;
    }

    public PlatformProcess Node(int index) => _nodes[index];

    /// <summary>SIGKILL of node <paramref name="index"/>.</summary>
    public void KillNode(int index)
    {
        Log($"SIGKILL node-{index}");
        _nodes[index].Kill();
    }

    /// <summary>SIGTERM of node <paramref name="index"/>, as a deploy stops it; returns once it exited.</summary>
    public void StopNode(int index)
    {
        Log($"SIGTERM node-{index}");
        _nodes[index].Stop();
    }

    private Dictionary<string, string> NodeEnvironment(string connectionString) =>
        new()
        {
            ["ConnectionStrings__Callern"] = connectionString,
            ["Callern__DataProtection__KeysPath"] = _keysPath,
            ["Callern__Classroom__FilesPath"] = _filesPath,
            // The tests' webhook receivers listen on loopback.
            ["Callern__Webhooks__AllowLocalReceivers"] = "true",
            // The platform's own decisions stay in the test's output; ASP.NET Core's request lines would bury them.
            ["Logging__LogLevel__Microsoft.AspNetCore"] = "Warning",
        };

    /// <summary>SIGKILL: no shutdown hook, no last write, connections left as they were.</summary>
    public void KillPlatform()
    {
        Log("SIGKILL the platform");
        Platform.Kill();
    }

    /// <summary>
    /// A new school with a student granted <see cref="InitialSeconds"/> and an available teacher, each an
    /// app on the SDK, in a call that both confirmed media for (CallConnected on both sides).
    /// </summary>
    /// <param name="studentBaseUrl">Where the student's app reaches the platform (a proxy, a node); <see cref="BaseAddress"/> when null.</param>
    /// <param name="teacherBaseUrl">Where the teacher's app reaches the platform; <see cref="BaseAddress"/> when null.</param>
    public async Task<FaultCall> ConnectedCallAsync(Uri? studentBaseUrl = null, Uri? teacherBaseUrl = null) =>
        await ConnectedCallAsync(await Host.CreateTenantAsync(), "s", "t", studentBaseUrl, teacherBaseUrl);

    /// <summary>
    /// New student <paramref name="studentId"/> of the school, granted <see cref="InitialSeconds"/>, and new
    /// teacher <paramref name="teacherId"/>, each an app on the SDK, in a call (the student asks for that
    /// teacher) that both confirmed media for.
    /// </summary>
    public async Task<FaultCall> ConnectedCallAsync(TestTenant tenant, string studentId, string teacherId, Uri? studentBaseUrl = null, Uri? teacherBaseUrl = null)
    {
        var (student, teacher) = await PartiesAsync(tenant, studentId, teacherId, studentBaseUrl, teacherBaseUrl);
        return await ConnectedCallAsync(tenant, student, teacher);
    }

    /// <summary>
    /// New student <paramref name="studentId"/> of the school, granted <see cref="InitialSeconds"/>, and new
    /// teacher <paramref name="teacherId"/>, available, each an app on the SDK, connected to the platform.
    /// </summary>
    public async Task<(MediaParty Student, MediaParty Teacher)> PartiesAsync(
        TestTenant tenant, string studentId, string teacherId, Uri? studentBaseUrl = null, Uri? teacherBaseUrl = null)
    {
        var host = Host;
        await host.StudentWithSecondsAsync(tenant, studentId, InitialSeconds);
        await host.TeacherAsync(tenant, teacherId);
        var teacher = Own(await MediaParty.JoinAsync(teacherBaseUrl ?? BaseAddress, () => host.Token(tenant, teacherId, CallernRoles.Teacher), teacherId, output));
        await teacher.Client.SetAvailabilityAsync(PresenceStatus.Available);
        var student = Own(await MediaParty.JoinAsync(studentBaseUrl ?? BaseAddress, () => host.Token(tenant, studentId, CallernRoles.Student), studentId, output));
        return (student, teacher);
    }

    /// <summary>
    /// The student asks for the teacher, who accepts; returns once both confirmed media. Matching ranks
    /// the preferred teacher first only among the teachers it already knows to be available, so a
    /// teacher that became available a moment ago may be offered another student's call: that fails
    /// here, by name, instead of pairing the wrong apps.
    /// </summary>
    public async Task<FaultCall> ConnectedCallAsync(TestTenant tenant, MediaParty student, MediaParty teacher)
    {
        var call = await student.Client.RequestCallAsync(new CallRequest { Language = "en", Level = "B1", PreferredTeachers = [teacher.UserId] });
        var offer = await teacher.Incoming.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(offer.CallId == call.Id, $"{teacher.UserId} was offered call {offer.CallId}, not {student.UserId}'s call {call.Id}");
        await teacher.Client.AcceptOfferAsync(offer.OfferId);
        // Two confirmations apart on each side show media growing: about 2-4 s after accept.
        await Task.WhenAll(student.Connected, teacher.Connected).WaitAsync(TimeSpan.FromSeconds(15));
        Log($"call {call.Id} connected");
        return new FaultCall(tenant, call.Id, student, teacher);
    }

    /// <summary>The call as the school's admin reads it, once it ended (polled: the platform, or its database, may be away meanwhile).</summary>
    public async Task<Call> EndedAsync(FaultCall call, TimeSpan within)
    {
        var deadline = DateTimeOffset.UtcNow + within;
        while (true)
        {
            try
            {
                var read = await Admin(call).GetCallAsync(call.CallId);
                if (read.State == CallState.Ended || DateTimeOffset.UtcNow > deadline)
                {
                    return read;
                }
            }
            catch (Exception e) when (e is HttpRequestException or CallernApiException && DateTimeOffset.UtcNow < deadline)
            {
                // Down or restarting.
            }
            await Task.Delay(250);
        }
    }

    /// <summary>
    /// What every scenario asserts, once the call ended: exactly one charge, the wallet down by it and
    /// nothing held, the teacher's earnings equal to it, and billed within the bound of the two-way media
    /// the clients confirmed (and not absurdly below it). Logs the over-billing for the closing note.
    /// </summary>
    /// <param name="underBilledTolerance">How much confirmed media may go unbilled (<see cref="UnderBilledTolerance"/> when null).</param>
    public async Task<Call> AssertHonestBillingAsync(string scenario, FaultCall call, Call ended, TimeSpan? underBilledTolerance = null)
    {
        var billed = ended.BilledSeconds ?? 0;
        var confirmed = ConfirmedMedia.TwoWay(call.Student.Reports, call.Teacher.Reports);
        var over = billed - confirmed.TotalSeconds;
        Log($"OVER-BILLING {scenario}: billed {billed} s, confirmed two-way media {confirmed.TotalSeconds:F1} s, over-billed {over:+0.0;-0.0;0.0} s " +
            $"(reason {ended.EndReason}, connected {ended.ConnectedAt:HH:mm:ss.fff}, ended {ended.EndedAt:HH:mm:ss.fff})");
        WriteSummary(scenario, billed, confirmed, over, ended);

        var admin = Admin(call);
        var wallet = await admin.GetStudentWalletAsync(call.Student.UserId);
        var charges = (await admin.ListStudentTransactionsAsync(call.Student.UserId)).Items.Where(t => t.Kind == LedgerEntryKind.Charge).ToList();
        var earnings = (await Host.SdkAs(call.Tenant, call.Teacher.UserId, CallernRoles.Teacher).ListMyEarningsAsync()).Items.Where(e => e.CallId == call.CallId).ToList();
        Assert.Single(charges);
        Assert.Equal(call.CallId, charges[0].CallId);
        Assert.Equal((InitialSeconds - billed, 0L), (wallet.AvailableSeconds, wallet.HeldSeconds));
        Assert.Equal(billed, earnings.Sum(e => e.Seconds));
        Assert.True(over <= Bound.TotalSeconds, $"billed {billed} s for {confirmed.TotalSeconds:F1} s of confirmed two-way media: over the {Bound.TotalSeconds} s bound");
        var tolerance = underBilledTolerance ?? UnderBilledTolerance;
        Assert.True(over >= -tolerance.TotalSeconds,
            $"billed {billed} s for {confirmed.TotalSeconds:F1} s of confirmed two-way media: more than {tolerance.TotalSeconds} s of it went unbilled");
        Assert.Equal(1, call.Student.AcceptedCount);
        Assert.Equal(1, call.Teacher.AcceptedCount);
        return ended;
    }

    public CallernClient Admin(FaultCall call) => Host.SdkAs(call.Tenant, "admin-1", CallernRoles.Admin);

    public void Log(string message) => output.TryWriteLine($"{DateTimeOffset.UtcNow:HH:mm:ss.fff} [test] {message}");

    /// <summary>CALLERN_TEST_OVERBILLING_LOG names a file to collect every scenario's line, for quoting.</summary>
    private static void WriteSummary(string scenario, long billed, TimeSpan confirmed, double over, Call ended)
    {
        if (Environment.GetEnvironmentVariable("CALLERN_TEST_OVERBILLING_LOG") is { Length: > 0 } path)
        {
            File.AppendAllText(path, $"{scenario}\tbilled {billed} s\tconfirmed {confirmed.TotalSeconds:F1} s\tover {over:+0.0;-0.0;0.0} s\t{ended.EndReason}{Environment.NewLine}");
        }
    }

    /// <summary>Disposed with the lab (a proxy first: cut, so no client waits on a silent one).</summary>
    public T Own<T>(T disposable) where T : IAsyncDisposable
    {
        lock (_owned)
        {
            _owned.Add(disposable);
        }
        return disposable;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var proxy in _owned.OfType<FaultProxy>())
        {
            proxy.Cut();
        }
        foreach (var owned in Enumerable.Reverse(_owned))
        {
            try
            {
                await owned.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (Exception e) when (e is TimeoutException or CallernRealtimeException or ObjectDisposedException)
            {
                // A client stuck behind a silent proxy; the process goes anyway.
            }
        }
        foreach (var process in _processes)
        {
            process.Dispose();
        }
        _balancer?.Dispose();
        _redis?.Dispose();
        _database.Dispose();
        foreach (var path in new[] { _keysPath, _filesPath, _balancerPath }.Where(Directory.Exists))
        {
            Directory.Delete(path, recursive: true);
        }
    }
}

/// <summary>A connected call of a <see cref="FaultLab"/>.</summary>
public sealed record FaultCall(TestTenant Tenant, Guid CallId, MediaParty Student, MediaParty Teacher)
{
    /// <summary>The last moment both clients confirmed media, by their own record.</summary>
    public DateTimeOffset? LastTwoWay => ConfirmedMedia.LastTwoWay(Student.Reports, Teacher.Reports);

    /// <summary>Whether the platform answered each app's confirmation of media sampled after <paramref name="since"/> with billing on.</summary>
    public bool BillingSince(DateTimeOffset since) =>
        new[] { Student, Teacher }.All(p => p.Reports.Any(r => r.SampledAt > since && r.Result is { Billing: true }));
}

using System.Net.Http.Headers;
using System.Text;
using Callern.Sdk;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Callern.Platform.Tests.Infrastructure;

/// <summary>A tenant made through the operator API, with its first API key.</summary>
public sealed record TestTenant(Guid Id, string KeyId, string Secret);

/// <summary>
/// The real platform (the app's own Program) on its own fresh PostgreSQL database, called over
/// HTTP through the generated C# client as a school would. One per test class.
/// </summary>
public class CallernApp : WebApplicationFactory<Program>
{
    private readonly string _keysPath;
    private readonly string _filesPath;
    private bool _ownsState = true;
    private FakeTimeProvider? _clock;

    public CallernApp()
    {
        Database = new TestDatabase();
        _keysPath = Path.Combine(Path.GetTempPath(), "callern-test-keys-" + Guid.NewGuid().ToString("N"));
        _filesPath = Path.Combine(Path.GetTempPath(), "callern-test-files-" + Guid.NewGuid().ToString("N"));
        OperatorKey = "op_" + Guid.NewGuid().ToString("N");
    }

    private CallernApp(CallernApp previous)
    {
        Database = previous.Database;
        _keysPath = previous._keysPath;
        _filesPath = previous._filesPath;
        OperatorKey = previous.OperatorKey;
        _clock = previous.Clock;
        previous._ownsState = false;
    }

    public TestDatabase Database { get; }

    /// <summary>The directory of the app's file storage (shared files of the classroom).</summary>
    public string FilesPath => _filesPath;
    public string OperatorKey { get; }

    /// <summary>
    /// Another platform process on the same database, key ring and clock, as after a restart or on a
    /// second node. It takes over the database: dispose it last.
    /// </summary>
    public CallernApp NextNode() => new(this);

    /// <summary>The app's TimeProvider, starting at <see cref="ClockStart"/>; tests move it forward.</summary>
    public FakeTimeProvider Clock => _clock ??= new FakeTimeProvider(ClockStart);

    /// <summary>Where the fake clock starts; a class may start it in the past (JWTs are checked against the real clock).</summary>
    protected virtual DateTimeOffset ClockStart => DateTimeOffset.UtcNow;
    public FakeLogCollector Logs => Services.GetRequiredService<FakeLogCollector>();

    /// <summary>Extra configuration for a test class (limits, settings) as key/value pairs.</summary>
    protected virtual IDictionary<string, string?> Settings => new Dictionary<string, string?>();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Callern"] = Database.ConnectionString,
            ["Callern:OperatorKey"] = OperatorKey,
            ["Callern:DataProtection:KeysPath"] = _keysPath,
            ["Callern:Classroom:FilesPath"] = _filesPath,
        };
        foreach (var (key, value) in Settings)
        {
            settings[key] = value;
        }
        builder.ConfigureAppConfiguration(config => config.AddInMemoryCollection(settings));
        // Logs go to the fake collector that tests read, not to the test run's console.
        builder.ConfigureLogging(logging => logging.ClearProviders().AddFakeLogging().SetMinimumLevel(LogLevel.Debug));
        builder.ConfigureServices(services => services.Replace(ServiceDescriptor.Singleton<TimeProvider>(Clock)));
    }

    public HttpClient Anonymous() => CreateClient();

    public HttpClient WithBearer(string token)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    public HttpClient Operator() => WithBearer(OperatorKey);

    public HttpClient WithApiKey(string keyId, string secret)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(
            "Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{keyId}:{secret}")));
        return client;
    }

    public static CallernClient Sdk(HttpClient http) => new(http);

    public async Task<TestTenant> CreateTenantAsync(string name = "Test School")
    {
        var created = await Sdk(Operator()).CreateTenantAsync(new CreateTenantRequest { Name = name });
        return new TestTenant(created.Tenant.Id, created.ApiKey.KeyId, created.ApiKey.Secret);
    }

    /// <summary>
    /// A token signed locally with the SDK's builder, as a school's backend would. On the real clock:
    /// the JWT handler and SignalR check lifetimes against it, so a test that moves <see cref="Clock"/>
    /// forward keeps working tokens.
    /// </summary>
    public string Token(TestTenant tenant, string userId, string role, string? name = null) =>
        new AccessTokenBuilder(tenant.KeyId, tenant.Secret).ForUser(userId, role, name).Build();

    public HttpClient As(TestTenant tenant, string userId, string role, string? name = null) =>
        WithBearer(Token(tenant, userId, role, name));

    public CallernClient SdkAs(TestTenant tenant, string userId, string role, string? name = null) =>
        Sdk(As(tenant, userId, role, name));

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing && _ownsState)
        {
            Database.Dispose();
            foreach (var path in new[] { _keysPath, _filesPath }.Where(Directory.Exists))
            {
                Directory.Delete(path, recursive: true);
            }
        }
    }
}

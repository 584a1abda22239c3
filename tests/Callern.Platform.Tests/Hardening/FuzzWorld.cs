using System.Net.Http.Json;
using System.Text.Json;
using Callern.Platform.Tests.Calls;
using Callern.Platform.Tests.Classroom;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;

namespace Callern.Platform.Tests.Hardening;

/// <summary>
/// A school in the middle of a lesson, for walking every input of the platform with bad values:
/// a connected call between student "s" and teacher "t" (both on the hub), a shared file and its
/// signed link, a package and a purchase, and a second school. Rate limits are lifted so that the
/// walk measures validation, not the limiter; TURN is configured so ICE servers can be issued.
/// </summary>
public sealed class FuzzWorld : CallernApp, IAsyncLifetime
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Callern:Limits:PermitsPerUser"] = "100000000",
        ["Callern:Limits:PermitsPerTenant"] = "100000000",
        ["Callern:Hub:MessagesPerSecond"] = "100000000",
        ["Callern:Hub:MessageBurst"] = "100000000",
        ["Callern:Turn:Secrets:0"] = "fuzz-turn-secret-0123456789",
        ["Callern:Turn:Urls:0"] = "turn:127.0.0.1:3478?transport=udp",
    };

    public TestTenant School { get; private set; } = null!;
    public TestTenant OtherSchool { get; private set; } = null!;
    public CallPair Pair { get; private set; } = null!;
    public Guid CallId { get; private set; }
    public Guid FileId { get; private set; }
    public string LinkToken { get; private set; } = null!;
    public Guid PackageId { get; private set; }
    public Guid PurchaseId { get; private set; }

    /// <summary>Clients by role name: each acts as that role in <see cref="School"/>, or as named.</summary>
    public IReadOnlyDictionary<string, HttpClient> Roles { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Pair = await this.PairAsync(seconds: 3600);
        School = Pair.Tenant;
        OtherSchool = await CreateTenantAsync("Other School");
        CallId = await CallTestKit.ConnectedCallAsync(Pair.Student, Pair.Teacher);
        FileId = (await this.UploadedAsync(School, "s", CallernRoles.Student, CallId, ClassroomKit.Pdf(), "notes.pdf")).Id;
        var student = As(School, "s", CallernRoles.Student);
        var link = await (await student.PostAsync($"/v1/calls/{CallId}/files/{FileId}/link", null)).Content.ReadFromJsonAsync<JsonElement>();
        LinkToken = link.GetProperty("url").GetString()!.Split('/')[^1];

        var admin = As(School, "admin-1", CallernRoles.Admin);
        var package = await admin.PostAsJsonAsync("/v1/packages", new { name = "Ten", minutes = 10, price = 9.5m, currency = "EUR", validityDays = 30 });
        PackageId = (await package.EnsureSuccessStatusCode().Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        using var purchase = new HttpRequestMessage(HttpMethod.Post, "/v1/students/s/wallet/purchases")
        {
            Content = JsonContent.Create(new { packageId = PackageId, paymentReference = "pay-1" }),
        };
        purchase.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
        var bought = await (await admin.SendAsync(purchase)).EnsureSuccessStatusCode().Content.ReadFromJsonAsync<JsonElement>();
        PurchaseId = bought.GetProperty("id").GetGuid();

        Roles = new Dictionary<string, HttpClient>
        {
            ["anonymous"] = Anonymous(),
            ["operator"] = Operator(),
            ["apiKey"] = WithApiKey(School.KeyId, School.Secret),
            ["admin"] = admin,
            ["service"] = As(School, "backend", CallernRoles.Service),
            ["teacher"] = As(School, "t", CallernRoles.Teacher),
            ["student"] = student,
            ["otherSchoolAdmin"] = As(OtherSchool, "admin-1", CallernRoles.Admin),
        };
    }

    /// <summary>A value a path parameter of this name takes in this world (the call, the file, student "s"…).</summary>
    public string ValidPathValue(string path, string parameter) => parameter switch
    {
        "callId" => CallId.ToString(),
        "fileId" => FileId.ToString(),
        "token" => LinkToken,
        "packageId" => PackageId.ToString(),
        "purchaseId" => PurchaseId.ToString(),
        "tenantId" => School.Id.ToString(),
        "keyId" => School.KeyId,
        "teacherId" or "userId" => "t",
        "id" when path.StartsWith("/v1/teachers", StringComparison.Ordinal) => "t",
        _ => "s",
    };

    public Task<DatabaseSnapshot> SnapshotAsync() => DatabaseSnapshot.TakeAsync(Database.ConnectionString);

    async Task IAsyncLifetime.DisposeAsync()
    {
        if (Pair is not null)
        {
            await Pair.DisposeAsync();
        }
    }
}

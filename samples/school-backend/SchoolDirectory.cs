using Callern.Sdk;
using Microsoft.Extensions.Options;

namespace Callern.Samples.SchoolBackend;

/// <summary>A person who may sign in to one of the school's apps.</summary>
public sealed record SchoolUser(string Id, string Name, string Role);

/// <summary>
/// The school's own user directory. A real school reads its database; this sample has no users
/// of its own, so it lists the demo school's students and teachers from Callern once, with a
/// short-lived admin token it signs itself.
/// </summary>
public sealed class SchoolDirectory(CallernApiFactory callern)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private IReadOnlyList<SchoolUser>? _users;

    public async Task<IReadOnlyList<SchoolUser>> ListAsync(string role, CancellationToken cancellationToken)
    {
        return (await AllAsync(cancellationToken)).Where(u => u.Role == role).ToList();
    }

    public async Task<SchoolUser?> FindAsync(string role, string id, CancellationToken cancellationToken) =>
        (await AllAsync(cancellationToken)).FirstOrDefault(u => u.Role == role && u.Id == id);

    private async Task<IReadOnlyList<SchoolUser>> AllAsync(CancellationToken cancellationToken)
    {
        if (_users is { } cached)
        {
            return cached;
        }
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_users is null)
            {
                var api = callern.For("school-directory", CallernRoles.Admin, "School directory");
                var students = await api.ListStudentsAsync(limit: 100, cancellationToken: cancellationToken);
                var teachers = await api.ListTeachersAsync(limit: 100, cancellationToken: cancellationToken);
                _users = students.Items.Select(s => new SchoolUser(s.Id, s.DisplayName, CallernRoles.Student))
                    .Concat(teachers.Items.Select(t => new SchoolUser(t.Id, t.DisplayName, CallernRoles.Teacher)))
                    .ToList();
            }
            return _users;
        }
        finally
        {
            _gate.Release();
        }
    }
}

/// <summary>Signs Callern access tokens with the school's API key and makes REST clients acting as someone.</summary>
public sealed class CallernApiFactory(IHttpClientFactory http, IOptions<CallernOptions> options, TimeProvider time)
{
    /// <summary>An access token for one user, signed locally (no round trip to Callern).</summary>
    public (string Token, DateTimeOffset ExpiresAt) Token(string userId, string role, string name)
    {
        var settings = options.Value;
        var token = new AccessTokenBuilder(settings.ApiKeyId, settings.ApiKeySecret, time)
            .ForUser(userId, role, name)
            .ValidFor(settings.TokenLifetime)
            .Build();
        return (token, time.GetUtcNow() + settings.TokenLifetime);
    }

    /// <summary>The REST client acting as this user (a fresh token per client: they are cheap).</summary>
    public CallernClient For(string userId, string role, string name)
    {
        var client = http.CreateClient("callern");
        client.BaseAddress = new Uri(options.Value.BaseUrl);
        client.DefaultRequestHeaders.Authorization = new("Bearer", Token(userId, role, name).Token);
        return new CallernClient(client);
    }
}

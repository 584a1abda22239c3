using System.Net;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace Callern.Platform.Tests.SdkClients;

/// <summary>
/// The retry handler against real HTTP: a tiny Kestrel server that fails the first two requests of
/// each path (the retry behaviour itself), and the platform on a real socket (the generated client
/// works through it).
/// </summary>
public sealed class IdempotentRetryHandlerTests(KestrelCallernApp app) : IClassFixture<KestrelCallernApp>, IAsyncLifetime
{
    private readonly Dictionary<string, List<string>> _seen = [];
    private WebApplication? _flaky;

    private static HttpClient Client(Uri baseAddress) =>
        new(new IdempotentRetryHandler(new IdempotentRetryOptions { Delay = TimeSpan.FromMilliseconds(10) }) { InnerHandler = new SocketsHttpHandler() })
        {
            BaseAddress = baseAddress,
        };

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        _flaky = builder.Build();
        // Each path answers 503 twice, then 200 with the body it received.
        _flaky.Run(async context =>
        {
            var body = await new StreamReader(context.Request.Body).ReadToEndAsync();
            int count;
            lock (_seen)
            {
                var key = context.Request.Path.Value!;
                if (!_seen.TryGetValue(key, out var bodies))
                {
                    _seen[key] = bodies = [];
                }
                bodies.Add(body);
                count = bodies.Count;
            }
            context.Response.StatusCode = count <= 2 ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK;
            await context.Response.WriteAsync(body);
        });
        await _flaky.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_flaky is not null)
        {
            await _flaky.DisposeAsync();
        }
    }

    private Uri FlakyUrl => new(_flaky!.Urls.First());

    private int Attempts(string path)
    {
        lock (_seen)
        {
            return _seen.TryGetValue(path, out var bodies) ? bodies.Count : 0;
        }
    }

    [Fact]
    public async Task A_get_that_fails_twice_succeeds_on_the_third_attempt()
    {
        using var http = Client(FlakyUrl);

        var response = await http.GetAsync("/get");

        Assert.Equal((HttpStatusCode.OK, 3), (response.StatusCode, Attempts("/get")));
    }

    [Fact]
    public async Task A_plain_post_is_sent_once_even_when_it_fails()
    {
        using var http = Client(FlakyUrl);

        var response = await http.PostAsync("/post", new StringContent("{\"seconds\":60}"));

        Assert.Equal((HttpStatusCode.ServiceUnavailable, 1), (response.StatusCode, Attempts("/post")));
    }

    [Fact]
    public async Task A_post_with_an_idempotency_key_is_retried_with_its_body()
    {
        using var http = Client(FlakyUrl);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/keyed") { Content = new StringContent("{\"seconds\":60}") };
        request.Headers.Add(IdempotentRetryHandler.IdempotencyKeyHeader, Guid.NewGuid().ToString());

        var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        lock (_seen)
        {
            Assert.Equal(["{\"seconds\":60}", "{\"seconds\":60}", "{\"seconds\":60}"], _seen["/keyed"]);
        }
    }

    [Fact]
    public async Task The_generated_client_reads_the_platform_through_the_handler()
    {
        var tenant = await app.CreateTenantAsync();
        using var http = Client(app.BaseUrl);
        http.DefaultRequestHeaders.Authorization = new("Bearer", app.Token(tenant, "admin-1", CallernRoles.Admin));
        var api = new CallernClient(http);

        var me = await api.GetMeAsync();

        Assert.Equal(CallernRoles.Admin, me.Role);
    }
}

using System.Net.Http.Headers;
using Callern.Platform.Tests.Signaling;
using Callern.Sdk;
using Microsoft.AspNetCore.SignalR.Client;

namespace Callern.Platform.Tests.Infrastructure;

/// <summary>
/// A platform reached over the network at <see cref="BaseAddress"/>: one node (<see cref="PlatformProcess"/>)
/// or the balancer in front of several, as a school's backend and apps reach it.
/// </summary>
public class RemotePlatform(Uri baseAddress, string operatorKey) : ICallernHost
{
    public Uri BaseAddress { get; } = baseAddress;

    public async Task<TestTenant> CreateTenantAsync(string name = "Test School")
    {
        var created = await new CallernClient(Http(operatorKey)).CreateTenantAsync(new CreateTenantRequest { Name = name });
        return new TestTenant(created.Tenant.Id, created.ApiKey.KeyId, created.ApiKey.Secret);
    }

    public string Token(TestTenant tenant, string userId, string role, string? name = null) =>
        new AccessTokenBuilder(tenant.KeyId, tenant.Secret).ForUser(userId, role, name).Build();

    public CallernClient SdkAs(TestTenant tenant, string userId, string role, string? name = null) =>
        new(Http(Token(tenant, userId, role, name)));

    public HubConnection Hub(string token) => HubClient.Build(BaseAddress, token);

    private HttpClient Http(string bearer)
    {
        var client = new HttpClient { BaseAddress = BaseAddress };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        return client;
    }
}

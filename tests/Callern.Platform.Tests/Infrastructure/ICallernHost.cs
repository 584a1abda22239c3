using Callern.Sdk;
using Microsoft.AspNetCore.SignalR.Client;

namespace Callern.Platform.Tests.Infrastructure;

/// <summary>
/// A running platform as the call tests reach it: in this process (<see cref="CallernApp"/>) or as a
/// real child process (<see cref="PlatformProcess"/>).
/// </summary>
public interface ICallernHost
{
    Task<TestTenant> CreateTenantAsync(string name = "Test School");

    /// <summary>A token signed locally with the SDK's builder, as a school's backend would.</summary>
    string Token(TestTenant tenant, string userId, string role, string? name = null);

    CallernClient SdkAs(TestTenant tenant, string userId, string role, string? name = null);

    /// <summary>A hub connection (not started) carrying <paramref name="token"/>.</summary>
    HubConnection Hub(string token);
}
